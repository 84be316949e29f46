from cloudai.cli.main import run

run()
