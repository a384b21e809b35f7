"""HDL, simulation and Vivado templates, shipped inside lutrun as ``lutrun.overlays``.

Only data lives here: ``lutrun.rtl`` reads these files to write a model's overlay.
"""
