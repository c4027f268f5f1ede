import unittest

from calendar_math import days_in_month


class TestCalendar(unittest.TestCase):
    def test_february(self):
        self.assertEqual(days_in_month(2024, 2), 29)
        self.assertEqual(days_in_month(1900, 2), 28)

    def test_april(self):
        self.assertEqual(days_in_month(2023, 4), 30)
