"""Hands the cffi build script and the overlays/ package mapping to setuptools; metadata is in pyproject.toml."""
from setuptools import find_packages, setup

setup(
    packages=[*find_packages("runtime"), "lutrun.overlays"],
    cffi_modules=["native/build_ffi.py:ffibuilder"],
)
