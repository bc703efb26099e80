# waba-connect key ring
1 aFUm33Dsq3huwXWgdk80EGoGUwuBE/iErG2cz4FL4IQ=
2 rnK4GRS32ZXDt88FURBI/k4Axzox5T4fcZlwNzgqzqg=
