"""The DVC stages, one module each, named as its stage and its command (`python -m pipeline
<stage>`); no stage imports another. dvc.yaml declares, as each stage's code dependencies, its
module and the shared modules it imports, less the plumbing (pipeline/code.py)."""
