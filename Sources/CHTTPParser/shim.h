#ifndef OMNIZIP_CHTTPPARSER_SHIM_H
#define OMNIZIP_CHTTPPARSER_SHIM_H
#include <http_parser.h>
/* Swift does not import http_parser_url's array of anonymous structs: one field at a time. */
static inline int omnizip_url_field(const struct http_parser_url *u, enum http_parser_url_fields field,
                                    uint16_t *off, uint16_t *len) {
    if (!(u->field_set & (1 << field))) return 0;
    *off = u->field_data[field].off;
    *len = u->field_data[field].len;
    return 1;
}
#endif
