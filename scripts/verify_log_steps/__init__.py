"""The parts of ``verify_log.py``: its sources (an export folder, a live node), the checks of each
step, the reports and the state file. Under the auditor scripts' import rule, like ``auditlib``."""
