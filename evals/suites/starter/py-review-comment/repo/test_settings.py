import json
import tempfile
import unittest
from pathlib import Path

from settings import load_settings


class TestSettings(unittest.TestCase):
    def test_reads_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.json"
            path.write_text(json.dumps({"port": 8080}))
            self.assertEqual(load_settings(path), {"port": 8080})
