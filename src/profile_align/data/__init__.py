"""Data model and loaders."""

from .dataset import Dataset, InvalidInputError, LoadReport, Rejection
from .model import Example, FactorValue, Output, Pair, Preference, Verdict, frame_to_records, records_to_frame, text_hash

__all__ = [
    "Dataset", "InvalidInputError", "LoadReport", "Rejection",
    "Example", "FactorValue", "Output", "Pair", "Preference", "Verdict",
    "frame_to_records", "records_to_frame", "text_hash",
]
