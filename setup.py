"""Thin setuptools shim: metadata, dependencies and extras live in setup.cfg."""

from setuptools import setup

setup()
