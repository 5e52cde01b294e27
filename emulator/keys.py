"""The typed ``web.AppKey`` s of the app's state, in one place so app and admin share them."""

from __future__ import annotations

from aiohttp import web

from emulator.actions import Services
from emulator.budget import ByteBudget
from emulator.clock import Clock
from emulator.credentials import Credentials
from emulator.journal import Coverage, Journal
from emulator.scenarios import ScenarioStore
from emulator.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
CREDENTIALS = web.AppKey("credentials", Credentials)
SERVICES = web.AppKey("services", Services)
SCENARIOS = web.AppKey("scenarios", ScenarioStore)
JOURNAL = web.AppKey("journal", Journal)
COVERAGE = web.AppKey("coverage", Coverage)
BUDGET = web.AppKey("budget", ByteBudget)
