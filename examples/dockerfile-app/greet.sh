#!/bin/sh
echo "Hello from a Dockerfile, built by Slipway for @WHO@!"
