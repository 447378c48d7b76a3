#!/usr/bin/env python3
"""Every setting is documented wherever users look, with one spelling.

The settings the programs read (dt-server --help, dt-eventstore --help) and the contract's
configuration names must appear in .env.example, README.md's configuration table and
manage.sh's list of known settings (which warns about unknown names in .env); everything
.env.example and docker-compose.yml name must be a setting that something reads.
Environment: DT_SOURCE_DIR, DT_SERVER_BIN, DT_EVENTSTORE_BIN (set by ctest).
"""
import os
import re
import subprocess
import sys

import yaml

SRC = os.environ["DT_SOURCE_DIR"]
failures = []


def read(name):
    return open(os.path.join(SRC, name)).read()


def help_text(binary):
    return subprocess.run([binary, "--help"], capture_output=True, text=True, check=True).stdout


server_settings = set(re.findall(r"^  ([A-Z][A-Z0-9_]+)\s", help_text(os.environ["DT_SERVER_BIN"]), re.M))
es_settings = set(re.findall(r"\[env ([A-Z][A-Z0-9_]+)\]", help_text(os.environ["DT_EVENTSTORE_BIN"])))
contract = {"PORT", "EVENTSTORE_URL", "EVENTSTORE_USERNAME", "EVENTSTORE_PASSWORD", "DATABASE_URL",
            "JWT_SECRET", "JWT_EXPIRATION", "DEBT_TRACKER_BOOTSTRAP_USER"}
if len(server_settings) < 10 or len(es_settings) < 10:
    failures.append(f"too few settings parsed from --help: {server_settings} {es_settings}")
program_settings = server_settings | es_settings | contract

env_example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", read(".env.example"), re.M))
manage = read("manage.sh")
m = re.search(r"KNOWN_SETTINGS=\(\n(.*?)\n\)", manage, re.S)
known = set(m.group(1).split()) if m else set()
if not known:
    failures.append("manage.sh has no KNOWN_SETTINGS list")
readme = read("README.md")
table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", readme, re.M))

for name in sorted(program_settings):
    if name not in env_example:
        failures.append(f"{name} is read by the programs but not documented in .env.example")
    if name not in known:
        failures.append(f"{name} is read by the programs but missing from manage.sh KNOWN_SETTINGS")
    if name not in table:
        failures.append(f"{name} is read by the programs but missing from README.md's configuration table")
for name in sorted(env_example):
    if name not in known:
        failures.append(f".env.example names {name}, which manage.sh does not know")
for name in sorted(table):
    if name not in known:
        failures.append(f"README.md's table names {name}, which manage.sh does not know")

compose = yaml.safe_load(read("docker-compose.yml"))
for service, spec in compose["services"].items():
    for name in (spec.get("environment") or {}):
        if service == "postgres" and name.startswith("POSTGRES_"):
            continue  # the postgres image's own settings
        if name not in program_settings:
            failures.append(f"docker-compose.yml service {service} sets {name}, which no program reads")

for f in failures:
    print("FAIL: " + f, file=sys.stderr)
if failures:
    sys.exit(1)
print(f"PASS: {len(program_settings)} settings documented in .env.example, README.md and manage.sh")
