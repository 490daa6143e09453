"""Material for the teaching notebooks that is more than a cell: a server to debug, the capstone's checker.

    hunt.py       the debugging hunt (notebook 09): a server with a hidden bug, to be found from the wire
    capstone.py   the capstone (notebook 07): the checker that tells students what is still missing

Example:
    from wsplay.workshop import capstone
    capstone.check(host.url)   # a report: what works, what is still missing, and a hint for each
"""

from wsplay.workshop import capstone, hunt

__all__ = ["capstone", "hunt"]
