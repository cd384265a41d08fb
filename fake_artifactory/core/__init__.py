"""The emulator's pure core: Artifactory's rules without HTTP servers, Flask or SQLite.

Raw-URI and path rules (:mod:`.uri`), records (:mod:`.records`), the wire formats
(:mod:`.serializers`), the error tree (:mod:`.errors`), and the rules of each feature:
checksums, downloads (ranges, conditionals), copy/move, archives, AQL, property search,
fault rules, the request journal, access tokens and authentication.
"""
