@codex @allure.label.epic:Codex_storage @allure.label.story:Dataset_lifecycle
Feature: Files can be checked, listed, described and deleted
  As a Codex user
  I want to know what a node holds and to remove what I no longer need
  So that I stay in control of my data

  Background:
    Given a Codex node "A" is running

  @critical
  Scenario: A file is held and listed until it is deleted
    When Alice uploads a 200 KiB file named "plan.txt" of type "text/plain" to node A
    Then node A holds the file
    And node A lists the file with the name "plan.txt"
    When Alice deletes the file from node A
    Then node A does not hold the file
    And node A no longer lists the file
    And downloading it from node A is refused with status 404 and the message "The requested CID could not be retrieved (Block not found in local store)."

  Scenario: Deleting a file twice is harmless
    Given Alice has uploaded a 70 KiB file to node A
    When Alice deletes the file from node A
    And Alice deletes the file from node A again
    Then node A does not hold the file

  Scenario: Deleting a file the node never stored succeeds
    When Alice deletes a file node A never stored
    Then node A does not hold that file

  Scenario: The manifest describes the stored file
    When Alice uploads a 150 KiB file named "notes.txt" of type "text/plain" to node A
    Then node A gives this manifest for the file:
      | field        | value      |
      | dataset size | 153600     |
      | block size   | 65536      |
      | file name    | notes.txt  |
      | type         | text/plain |
      | protected    | no         |
    And its tree CID is a Codex tree CID

  Scenario: Starting a download of a file the node already holds answers with its manifest
    Given Alice has uploaded a 90 KiB file named "slides.odp" to node A
    When Alice asks node A to fetch the file from the network in the background
    Then the answer describes the file with the name "slides.odp" and 92160 bytes
    And node A holds the file

  Scenario: A block that belongs to a stored file cannot be deleted on its own
    Given Alice has uploaded a 130 KiB file to node A
    When Alice tries to delete the first block of the file from node A
    Then node A answers 500 with the message "Directly deleting a block that is part of a dataset is not allowed."
    And she downloads it from node A with an identical SHA-256

  Scenario: Only the manifest is checked for presence, never the tree
    Given Alice has uploaded a 10 KiB file to node A
    Then node A holds the file
    And node A does not report the file's tree CID as held
