"""The README.txt every evidence bundle carries: what is in it and how to check it by hand."""

README = """\
Evidence bundle of case "{case}", made by osint {version} on {created_at}
by operator "{operator}" on machine "{hostname}".

WHAT IS IN HERE
  manifest.json        every other file with its size and SHA-256 (not listed in itself)
  manifest.json.tsr    (only if made with --tsa) an RFC 3161 timestamp of manifest.json
  SHA256SUMS           the same hashes in the format of the sha256sum tool
  README.txt           this file
  report.html          the case report: open it in any web browser (it loads nothing remotely)
  custody.jsonl        chain of custody: every collection run (what was asked, when, osint
  custody.txt            version, machine, operator, captures, errors), then this export
  data/*.jsonl         the case's records, one JSON object a line (exact values)
  data/*.csv           the same as CSV; a cell a spreadsheet would run as a formula starts
                         with an added ' (the JSONL files hold the exact text)
  media/<sha256>       images and imported files, each named by the SHA-256 of its bytes
                         (type and size in data/media.csv)
  warc/...             the WARC files holding the raw responses captured; data/captures.csv
                         gives each capture's file (warc_file, placed under warc/ here), its
                         offset and length in it, and the SHA-256 of the response body

HOW TO VERIFY BY HAND (no osint needed; every line starting with $ is a command to run,
as written, in a shell: tests run them on every release)
  1. Unzip into an empty folder (unzip -t also checks every file's CRC):
       $ unzip -t case.zip
       $ unzip -q case.zip -d case && cd case
  2. Hash the manifest and compare the result with the SHA-256 printed when the bundle was made
     (and recorded wherever the investigator noted it). This is the one check that shows the
     bundle is the original: anyone can change files and re-hash them all consistently.
       $ sha256sum manifest.json
  3. Check every file against SHA256SUMS (every line must say OK):
       $ sha256sum -c --strict SHA256SUMS
     SHA256SUMS is itself listed, with its hash, in manifest.json:
       $ grep -A2 '"SHA256SUMS"' manifest.json; sha256sum SHA256SUMS
  4. Look for files that are in neither SHA256SUMS nor this list: there must be none besides
     manifest.json, manifest.json.tsr and SHA256SUMS itself:
       $ find . -type f | sort
  5. If manifest.json.tsr exists, check the timestamp against the time-stamping authority's
     certificate: tsa-ca.pem, obtained from the authority (its root CA, or the TSA certificate
     itself, which is what -partial_chain allows), placed beside the bundle:
       $ openssl ts -reply -in manifest.json.tsr -text
       $ openssl ts -verify -data manifest.json -in manifest.json.tsr -CAfile ../tsa-ca.pem \\
           -partial_chain
     It must print "Verification: OK". The token proves that manifest.json existed at the time
     it states; with step 3, that every file existed then as it is now.
  6. A media file's name is its SHA-256:
       $ sha256sum media/* | awk '{{ n = $2; sub("media/", "", n); if ($1 != n) exit 1 }}'

With osint installed, one command does all of this without unpacking anything:
  osint verify case.zip --expect SHA256-OF-MANIFEST [--tsa-cert tsa-ca.pem]
"""
