"""Scenarios: the file format, its loader and the incident library (pure, reads files only)."""

from .loader import ScenarioError, library_names, library_path, load_scenario, parse_scenario
from .schema import Scenario, parse_at, parse_duration

__all__ = [
    "Scenario",
    "ScenarioError",
    "library_names",
    "library_path",
    "load_scenario",
    "parse_at",
    "parse_duration",
    "parse_scenario",
]
