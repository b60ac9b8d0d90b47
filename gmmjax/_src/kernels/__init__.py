"""One function per formula, producing the ``(K_p, K_q)`` matrix over component pairs."""
