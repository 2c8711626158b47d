@codex @allure.label.epic:Codex_storage @allure.label.story:Content_addressing
Feature: A file's CID follows from its content, name and type
  As a Codex user
  I want the identifier of my file to depend only on what I upload
  So that anyone can name the same content the same way on any node

  Background:
    Given a Codex node "A" is running

  @critical
  Scenario: The reference content gets the tree CID every Codex node gives it
    When Alice uploads the text "some file contents" to node A
    Then the file's tree CID is "zDzSvJTezk7bJNQqFq8k1iHXY84psNuUfZVusA5bBQQUSuyzDSVL"
    And the manifest says the dataset is 18 bytes in 1 block of 65536 bytes
    And the CID is a Codex manifest CID

  Scenario: A CID follows the Codex content-addressing rules
    When Alice uploads a 200 KiB file named "field-notes.txt" of type "text/plain" to node A
    Then the CID is the one Codex computes for that content, name and type

  Scenario: The same content with the same name and type gets the same CID
    When Alice uploads a 100 KiB file named "report.pdf" of type "application/pdf" to node A
    And Bob uploads the same content named "report.pdf" of type "application/pdf" to node A
    Then both uploads have the same CID

  Scenario: Another name gives another CID over the same tree
    When Alice uploads a 100 KiB file named "report.pdf" of type "application/pdf" to node A
    And Bob uploads the same content named "summary.pdf" of type "application/pdf" to node A
    Then the two uploads have different CIDs
    And both manifests have the same tree CID

  Scenario: Another type gives another CID over the same tree
    When Alice uploads a 100 KiB file named "data" of type "text/csv" to node A
    And Bob uploads the same content named "data" of type "application/json" to node A
    Then the two uploads have different CIDs
    And both manifests have the same tree CID

  Scenario Outline: The name and type come back with the download
    When Alice uploads a 3 KiB file named "<name>" of type "<type>" to node A
    Then downloading it from node A gives the type "<type>" and the file name "<name>"

    Examples:
      | name              | type            |
      | holiday photo.png | image/png       |
      | résumé.txt        | text/plain      |
      | dir/x.bin         | application/zip |

  Scenario: A file without a name or type comes back as a generic attachment
    When Alice uploads a 3 KiB file to node A
    Then downloading it from node A gives the type "application/octet-stream" and no file name
