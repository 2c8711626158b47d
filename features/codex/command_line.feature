@codex @allure.label.epic:Codex_storage @allure.label.story:Command-line_tools
Feature: QA engineers move files by hand with the command-line tools
  As a QA engineer
  I want codex-upload and codex-download to behave like the Go client's tools
  So that I can reproduce by hand what a scenario does

  Background:
    Given a Codex node "A" is running
    And a 300 KiB file "sample.bin" on the QA engineer's disk

  Scenario: Upload and download a file by hand
    When the QA engineer uploads "sample.bin" to node A with codex-upload
    Then the tool succeeds and prints "✅ Upload successful!"
    And the tool printed the CID of the uploaded file
    When the QA engineer downloads that CID from node A into "copy.bin" with codex-download
    Then the tool succeeds and prints "Saved to: copy.bin"
    And "copy.bin" on the QA engineer's disk is identical to "sample.bin"

  Scenario: codex-download needs a CID
    When the QA engineer runs codex-download against node A without a CID
    Then the tool fails with "CID is required (use -cid flag)"

  Scenario: A failed download leaves no partial file behind
    When the QA engineer downloads the CID "zDvZRwzmNonExistentCID123456789" from node A into "broken.bin" with codex-download
    Then the tool fails with "Download failed: codex download failed with status 400: Incorrect Cid"
    And there is no "broken.bin" on the QA engineer's disk

  Scenario: codex-upload reports a file it cannot read
    When the QA engineer uploads "missing.bin" to node A with codex-upload
    Then the tool fails with "Failed to read file"
