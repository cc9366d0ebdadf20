"""The step scripts: each file runs alone in a SageMaker container, on its image's Python and packages.

SageMaker receives each one as a single file (pipeline_steps/images.py, STEP_IMAGES), so a script
here imports only the standard library and its image's packages, never a module of ours
(tests/test_image_contracts.py, tests/test_layers.py). What runs on a developer's machine or at
synth (the SDK builders, checked_in.py, the local runners) lives in pipeline_steps/ above.
"""
