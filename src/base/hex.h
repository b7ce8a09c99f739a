/*
 * Hexadecimal digits, for the parsers of text the user gives: MAC
 * addresses, IPv6 addresses, the RSS key.
 */
#ifndef REFNET_BASE_HEX_H
#define REFNET_BASE_HEX_H

/* The value of the hexadecimal digit c (either case), or -1. */
static inline int rn__hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif /* REFNET_BASE_HEX_H */
