"""Figures the security tests measure, printed at the end of the run
(``pytest_terminal_summary`` in tests/security/conftest.py)."""

FIGURES = {}


def record(section, **values):
    FIGURES.setdefault(section, {}).update(values)


def add(section, name, amount=1):
    entry = FIGURES.setdefault(section, {})
    entry[name] = entry.get(name, 0) + amount


def lines():
    out = []
    for section, values in FIGURES.items():
        parts = ", ".join(
            f"{name.replace('_', ' ')} {value:,}"
            if isinstance(value, int)
            else f"{name.replace('_', ' ')} {value}"
            for name, value in values.items()
        )
        out.append(f"security: {section}: {parts}")
    return out
