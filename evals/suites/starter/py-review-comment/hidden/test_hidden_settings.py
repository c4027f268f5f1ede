import json
import tempfile
import unittest
from pathlib import Path

from settings import SettingsError, load_settings


class TestSettingsErrors(unittest.TestCase):
    def test_missing_file(self):
        with self.assertRaises(SettingsError) as raised:
            load_settings("/nonexistent/settings.json")
        self.assertIn("/nonexistent/settings.json", str(raised.exception))
        self.assertIsInstance(raised.exception.__cause__, OSError)

    def test_broken_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.json"
            path.write_text("{port: 8080")
            with self.assertRaises(SettingsError) as raised:
                load_settings(path)
            self.assertIn(str(path), str(raised.exception))
            self.assertIsInstance(raised.exception.__cause__, json.JSONDecodeError)

    def test_still_reads(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.json"
            path.write_text('{"a": 1}')
            self.assertEqual(load_settings(path), {"a": 1})
