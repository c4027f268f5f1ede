import ast
import unittest
from pathlib import Path

from report import format_row


class TestRefactor(unittest.TestCase):
    def test_format_row(self):
        self.assertEqual(format_row(["a", 1], [3, 2]), "a   | 1 ")

    def test_the_join_is_written_once(self):
        source = Path("report.py").read_text()
        self.assertEqual(source.count('" | ".join'), 1, "the row format should live in format_row only")
        ast.parse(source)
