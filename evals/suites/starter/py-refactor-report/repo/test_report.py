import unittest

from report import report

ORDERS = [{"id": 1, "customer": "ana", "total": 12.5}, {"id": 22, "customer": "bo", "total": 3}]


class TestReport(unittest.TestCase):
    def test_report(self):
        self.assertEqual(
            report(ORDERS).splitlines(),
            [
                "id   | customer   | total   ",
                "1    | ana        | 12.50   ",
                "22   | bo         | 3.00    ",
                "     | total      | 15.50   ",
            ],
        )
