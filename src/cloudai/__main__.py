from cloudai.entry import run

run()
