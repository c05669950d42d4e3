/* confdefs.h */
#define PACKAGE_NAME "weft"
#define PACKAGE_TARNAME "weft"
#define PACKAGE_VERSION "0.1.0"
#define PACKAGE_STRING "weft 0.1.0"
#define PACKAGE_BUGREPORT ""
#define PACKAGE_URL ""
#define PACKAGE "weft"
#define VERSION "0.1.0"
/* end confdefs.h.  */

int
main (void)
{

  ;
  return 0;
}
