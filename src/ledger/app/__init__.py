"""The application layer: the one layer every entry point calls (docs/architecture.md).

The doors (`ledger.cli`, `ledger.web`) parse what they are given, make one call here and
print or render what comes back. Here: `submit` (every event written, from any source,
with the ledger's write lock taken before anything is read), the month end, timesheet and
bank statement imports, scenario files, `verify`, opening a database (`db`) and reading
the books (`reading`). Nothing is imported here, so a door pays only for what it uses.
"""
