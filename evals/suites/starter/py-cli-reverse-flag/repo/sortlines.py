"""Print the lines of a file (or stdin) sorted."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", help="file to read (default: stdin)")
    parser.add_argument("-u", "--unique", action="store_true", help="drop repeated lines")
    args = parser.parse_args(argv)
    text = open(args.path).read() if args.path else sys.stdin.read()
    lines = text.splitlines()
    if args.unique:
        lines = set(lines)
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
