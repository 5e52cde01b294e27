"""The typed ``web.AppKey`` s of the app's state, in one place so app and admin share them."""

from __future__ import annotations

from aiohttp import web

from emulator.actions.services import Services
from emulator.clock import Clock
from emulator.scenarios.store import ScenarioStore
from emulator.serve.budget import ByteBudget
from emulator.serve.gallery import Gallery
from emulator.serve.journal import Coverage, Journal
from emulator.serve.replycache import ReplyCache
from emulator.serve.sharing import Sharing
from emulator.settings import Settings
from emulator.state.files import ResultFiles
from emulator.state.rates import Rates
from emulator.state.tasks import TaskStore
from emulator.wire.credentials import Credentials

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
CREDENTIALS = web.AppKey("credentials", Credentials)
SERVICES = web.AppKey("services", Services)
SCENARIOS = web.AppKey("scenarios", ScenarioStore)
JOURNAL = web.AppKey("journal", Journal)
COVERAGE = web.AppKey("coverage", Coverage)
BUDGET = web.AppKey("budget", ByteBudget)
RESULT_FILES = web.AppKey("result_files", ResultFiles)
TASKS = web.AppKey("tasks", TaskStore)
RATES = web.AppKey("rates", Rates)
SHARING = web.AppKey("sharing", Sharing)  # what processes share: nothing, or Redis
GALLERY = web.AppKey("gallery", Gallery)  # pictures of recent requests, for the dashboard
REPLIES = web.AppKey("replies", ReplyCache)  # whole replies to repeated requests
