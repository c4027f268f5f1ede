import subprocess
import sys
import unittest


def run(*args, stdin=""):
    done = subprocess.run([sys.executable, "sortlines.py", *args], input=stdin, capture_output=True, text=True)
    return done.returncode, done.stdout


class TestSortlines(unittest.TestCase):
    def test_sorted(self):
        self.assertEqual(run(stdin="b\na\nc\n"), (0, "a\nb\nc\n"))

    def test_unique(self):
        self.assertEqual(run("-u", stdin="b\na\nb\n"), (0, "a\nb\n"))
