"""Where :class:`SimState` used to live; kept so ``from bot.sim.state import SimState`` keeps working."""

from bot.sim.world import SimState

__all__ = ["SimState"]
