"""The failover drill's writer: numbered inserts through the read-write endpoint.

Runs on the application host for a bounded time and count, reconnecting after every
failure, and records each acknowledged commit (its number and wall-clock time) and each
failure, as JSON, for the verification to compare with what the new leader holds.
It pauses 40 ms between inserts (about 20 commits a second): a pause of a second still
shows as twenty commits missing, at a quarter of the commits it made when it paused
10 ms (about 80 a second, which took about 15 % of a core from the machine the other
tests share; its CPU at 40 ms was not measured).
It stops early once OUTPUT.stop exists (a drill whose length the writer cannot know).
Usage: drill_writer.py DSN SECONDS MAX_ROWS OUTPUT [FIRST_NUMBER]
"""

import json
import os
import sys
import time

import psycopg2

dsn, seconds, max_rows, output = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
acknowledged, failures = [], []
connection = None
deadline = time.time() + seconds
number = int(sys.argv[5]) - 1 if len(sys.argv) > 5 else 0
last = number + max_rows
while time.time() < deadline and number < last and not os.path.exists(output + ".stop"):
    number += 1
    try:
        if connection is None:
            connection = psycopg2.connect(dsn, connect_timeout=2)
            connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO ha_drill (id) VALUES (%s)", (number,))
        acknowledged.append([number, time.time()])
    except psycopg2.Error as error:
        failures.append([number, time.time(), (str(error).strip().splitlines() or ["?"])[0]])
        if connection is not None:
            connection.close()
        connection = None
        time.sleep(0.2)
    time.sleep(0.04)
with open(output + ".tmp", "w") as handle:
    json.dump({"acknowledged": acknowledged, "failures": failures}, handle)
os.rename(output + ".tmp", output)
