@codex @allure.label.epic:Codex_storage @allure.label.story:Storage_accounting
Feature: A node accounts for the space its files use
  As the operator of a Codex node
  I want the node to report exactly what it stores
  So that I can plan capacity and rely on the storage quota

  Every data block counts a full 64 KiB (65,536 bytes), identical blocks are stored once, and every
  file adds a small manifest block: 56 bytes for a small file with no name or type, more for a
  larger size field or a name.

  Background:
    Given a Codex node "A" is running
    And node A's storage use is noted

  @critical
  Scenario: The reference content takes 2 blocks: 1 data block and its manifest
    Given the text "some file contents" is not stored on node A
    And node A's storage use is noted
    When Alice uploads the text "some file contents" to node A
    Then node A's storage use grew by 2 blocks and 65,592 bytes

  Scenario: A 130 KiB file takes 4 blocks: 3 full data blocks and its manifest
    When Alice uploads a 130 KiB file to node A
    Then node A's storage use grew by 4 blocks and 196,666 bytes

  Scenario: Identical blocks inside a file are stored once
    When Alice uploads a 256 KiB file of zero bytes to node A
    Then node A's storage use grew by 2 blocks and 65,594 bytes

  Scenario: The same content under another name only adds a manifest
    Given Alice has uploaded a 130 KiB file to node A
    And node A's storage use is noted
    When Bob uploads the same content named "copy.bin" to node A
    Then node A's storage use grew by 1 block and 68 bytes

  Scenario: Deleting a file gives its space back
    When Alice uploads a 300 KiB file to node A
    And Alice deletes the file from node A
    Then node A's storage use is back where it was
