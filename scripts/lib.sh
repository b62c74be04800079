# Shared by the scripts: find JDK 25, run the Maven wrapper, build the daemon's class path.
# Sourced, not run.
VNICD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

vnicd_die() { echo "vnicd: $*" >&2; exit 1; }

# JAVA_HOME if it is a JDK 25 or newer, else the first /usr/lib/jvm/*25* (or newer) found.
vnicd_find_jdk() {
  local candidate version
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/javac" ] || continue
    version=$("$candidate/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    if [ -n "$version" ] && [ "${version%%.*}" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  vnicd_die "no JDK 25 found (looked at JAVA_HOME and /usr/lib/jvm). Install one, e.g. Temurin 25, or set JAVA_HOME."
}

vnicd_mvn() {
  vnicd_find_jdk
  (cd "$VNICD_ROOT" && ./mvnw -B -ntp "$@")
}

# The JVM flags every vnicd process runs with (kept equal to vnicd.jvm.flags in pom.xml).
VNICD_JVM_FLAGS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-exports=java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED -Dchronicle.analytics.disable=true)
