"""(not written yet: see DESIGN.md)"""


def apply():
    pass
