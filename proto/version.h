/* version: the release of samen, shown by --version and samen status. */
#ifndef SAMEN_VERSION_H
#define SAMEN_VERSION_H

#define SAMEN_VERSION "0.1.0"

#endif
