"""Next times of cron expressions by croniter (an independent implementation), for UAEF's tests.

Reads JSON lines {"cron": "...", "start": EPOCH_SECONDS, "count": N} from the file named first and prints, for
each, a JSON list of the next N times as epoch seconds, in UTC. croniter 6.0.0 (PyPI), pinned by
scripts/test.
"""

import json
import sys
from datetime import datetime, timezone

from croniter import croniter

for line in open(sys.argv[1]):
    case = json.loads(line)
    start = datetime.fromtimestamp(case["start"], tz=timezone.utc)
    times = croniter(case["cron"], start)
    print(json.dumps([int(times.get_next(datetime).timestamp()) for _ in range(case["count"])]), flush=True)
