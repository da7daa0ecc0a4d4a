#!/bin/sh
# Bring the schema up to date, then run the given qualibot command (default: the web server).
set -e
qualibot migrate
exec qualibot "$@"
