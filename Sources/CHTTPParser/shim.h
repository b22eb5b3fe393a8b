#ifndef OMNIZIP_CHTTPPARSER_SHIM_H
#define OMNIZIP_CHTTPPARSER_SHIM_H
#include <http_parser.h>
#endif
