"""Plumbing: what runs the stages without deciding any number they write — errors and their
wording, atomic files, process supervision, progress display. No module here imports torch,
NumPy or a pipeline module outside this package (tests/test_structure.py), so none is a stage's
DVC dependency nor part of the code a checkpoint must share with the run that resumes it."""
