"""The overlay on a Zynq, driven with pynq: engines ``fpga`` (a board) and ``sim`` (Verilator).

Only this subpackage imports pynq, and only when an engine is created, so the
rest of lutrun runs where pynq does not install.  ``sim`` runs the very same
driver code as ``fpga``: pynq's own ``Overlay``, ``allocate`` and AXI DMA
driver, over a ``pynq.Device`` whose fabric is the Verilator model.
"""
