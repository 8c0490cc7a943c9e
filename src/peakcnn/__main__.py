from peakcnn.cli import entry

entry()
