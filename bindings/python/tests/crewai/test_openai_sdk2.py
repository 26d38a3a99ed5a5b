"""test_openai.py once more, in the CrewAI environment: CrewAI pins openai<3, so this is where
wflo.instrument() is proven against openai 2.x (httpx) as well as 3.x (httpx2) — `make
test-python` runs this directory with that environment. The tests and their fixtures are
imported as they are (tests/ is on sys.path: it holds the rootdir conftest)."""
from test_openai import *  # noqa: F401,F403
