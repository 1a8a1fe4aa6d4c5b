#!/usr/bin/env bash
# Prints the home directory of a JDK 25 (or newer) on stdout, or explains on stderr what to install and fails.
# Order: $JAVA_HOME, then the usual install locations (Debian/Ubuntu, Temurin, SDKMAN, macOS), then `java` on PATH.
set -u

java_major() { # prints the feature version of the JDK at $1, or nothing
  local v
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
  echo "${v%%.*}"
}

candidates=()
[ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
for d in /usr/lib/jvm/* /opt/java/* /opt/jdk* /usr/local/lib/jvm/* "$HOME"/.sdkman/candidates/java/* \
         /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/.jdks/*; do
  [ -d "$d" ] && candidates+=("$d")
done
if command -v java >/dev/null 2>&1; then
  candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
fi

for c in "${candidates[@]}"; do
  m=$(java_major "$c") || continue
  if [ -n "$m" ] && [ "$m" -ge 25 ] 2>/dev/null; then
    echo "$c"
    exit 0
  fi
done
echo "patchwork: no JDK 25 found (looked at \$JAVA_HOME, /usr/lib/jvm, /opt/java, ~/.sdkman and java on PATH)." >&2
echo "patchwork: install one, e.g. 'apt-get install temurin-25-jdk' (Adoptium repository) or 'sdk install java 25-tem', then set JAVA_HOME to it." >&2
exit 1
