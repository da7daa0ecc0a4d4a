#!/bin/sh
# Bring the schema up to date, then run the given qualibot command (default: the terminal chat).
set -e
qualibot migrate
exec qualibot "$@"
