import unittest

from durations import parse_duration


class TestDurations(unittest.TestCase):
    def test_hours(self):
        self.assertEqual(parse_duration("2h"), 7200)

    def test_rejects_garbage(self):
        with self.assertRaises(ValueError):
            parse_duration("soon")
