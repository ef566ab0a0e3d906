// Lets a binary linked on a host with glibc 2.35 or newer run on an older glibc (Lambda's
// provided.al2023 has 2.34). glibc 2.35 gave hypot and hypotf new symbol versions, and the
// Swift runtime's and Foundation's static libraries, compiled against newer headers, ask for
// them. scripts/package-lambda links with `-Xlinker --wrap=hypot -Xlinker --wrap=hypotf`, so
// those calls reach the functions below instead, which compute through hypotl, whose symbol
// version every glibc has (its extended range cannot overflow where hypot would not; the result
// is rounded twice, so it may differ from glibc 2.35's hypot in the last bit). Without those
// flags nothing calls these functions.
#include <math.h>

double __wrap_hypot(double x, double y) { return (double)hypotl(x, y); }

float __wrap_hypotf(float x, float y) { return (float)hypotl(x, y); }
