import unittest

from articles import Article


class TestArticles(unittest.TestCase):
    def test_tag_once(self):
        a = Article("x", tags=["py"])
        a.tag("py").tag("web")
        self.assertEqual(a.tags, ["py", "web"])
