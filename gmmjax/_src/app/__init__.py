"""The applications on top of the public API: the demo, its figures and report, file I/O."""
