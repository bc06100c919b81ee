"""The project wiring, the top layer: the root URLconf, the navigation and `seed_demo`.

It may import every layer below (`requests_app`, `accounts`, `portal`); nothing imports it
(the contracts in `.importlinter`, run by `make lint`).
"""
